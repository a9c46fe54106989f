//! Tests of `schemas`.
use super::*;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;

#[test]
fn a_date_past_the_calendar_decodes_as_null_not_a_panic() {
    // A regression from fuzzing delivery decoding.
    assert_eq!(from_avro(&Value::Date(i32::MAX)), Json::Null);
    assert_eq!(from_avro(&Value::Date(0)), Json::String("1970-01-01".into()));
}

#[test]
fn embedded_schemas_parse_and_cover_every_event_type() {
    let s = get().expect("schemas parse");
    for (t, _) in crate::domain::event_types::EVENT_TYPES {
        assert!(s.events.contains_key(*t), "no schema for {t}");
    }
    assert_eq!(s.fingerprint_hex().len(), 16);
}

fn sample_update() -> Json {
    serde_json::json!({
        "event_id": "0b7e8f1c-6d1a-5a43-9b1e-2f4f7a1b2c3d",
        "event_type": "Arrested", "data_class": "custody",
        "occurred_at": "2026-10-28T14:35:00Z", "recorded_at": "2026-11-28T00:00:00Z",
        "source": {"agency": "police-05", "connector": "police-custody", "message_id": "f.csv"},
        "subject": {"subject_id": null, "identifiers": [{"scheme": "PNC", "value": "2019/0012345G"}],
                    "name": "Daniel O'Hara", "date_of_birth": "1991-02-14"},
        "payload": {"custody_ref": "05CL/26/004512", "offence_date": "2026-10-28"},
    })
}

#[test]
fn rabin_fingerprint_matches_the_specification_examples() {
    // From the Avro specification's test vectors: fingerprint of the schema "int".
    assert_eq!(rabin_fingerprint(br#""int""#), 0x7275_d51a_3f39_5c8f);
    assert_eq!(parsing_canonical_form(&serde_json::json!({"type": "int", "logicalType": "date"}), "x"), r#""int""#);
}

#[test]
fn single_object_round_trip_keeps_every_field() {
    let s = get().unwrap();
    let bytes = s.encode_single_object(&sample_update()).unwrap();
    assert_eq!(&bytes[..2], &[0xC3, 0x01]);
    let back = s.decode_single_object(&bytes).unwrap();
    assert_eq!(back["payload"]["custody_ref"], "05CL/26/004512");
    assert_eq!(back["payload"]["offence_date"], "2026-10-28");
    assert_eq!(back["subject"]["date_of_birth"], "1991-02-14");
    assert_eq!(back["occurred_at"], "2026-10-28T14:35:00Z");
    assert_eq!(back["payload"]["address"], Json::Null);
}

#[test]
fn a_field_outside_the_schema_is_refused_with_its_path() {
    let s = get().unwrap();
    let mut u = sample_update();
    u["payload"]["shoe_size"] = Json::from(9);
    let err = s.encode_datum(&u).unwrap_err().to_string();
    assert!(err.contains("payload.shoe_size"), "{err}");
}

#[test]
fn a_value_of_the_wrong_type_in_a_list_is_refused_with_its_path() {
    let s = get().unwrap();
    let mut u = sample_update();
    u["subject"]["identifiers"][0]["value"] = Json::from(12345);
    let err = s.encode_datum(&u).unwrap_err().to_string();
    assert!(err.contains("subject.identifiers[0].value"), "{err}");
}

#[test]
fn unchanged_schemas_are_compatible_and_a_new_required_field_is_not() {
    let s = get().unwrap();
    assert!(check_compatibility(&s.files).unwrap().is_empty());
    let mut changed = s.files.clone();
    // Released data lacked a field the current schema requires -> incompatible the other way round:
    // simulate by making the *released* schema have an extra required field the current lacks? That is fine;
    // instead, remove a default-less field from the released envelope: current requires it, old lacks it.
    let env = changed.get_mut("Update").unwrap();
    let fields = env["fields"].as_array_mut().unwrap();
    fields.retain(|f| f["name"] != "data_class");
    let problems = check_compatibility(&changed).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn what_an_earlier_schema_wrote_is_read_with_the_fields_added_since_at_their_defaults() {
    let s = get().unwrap();
    let (name, text) =
        HISTORY_FILES.iter().find(|(n, _)| *n == "6e82a96800714ab3").expect("the schema before categories");
    let old_json: Json = serde_json::from_str(text).unwrap();
    let old = Schema::parse(&old_json).unwrap();
    let datum = binary::encode(&sample_update(), &old, ENVELOPE).unwrap();
    let fingerprint = hex::decode(name).unwrap();
    let back = s.decode_stored(&fingerprint, &datum).unwrap();
    assert_eq!(back["payload"]["custody_ref"], "05CL/26/004512");
    assert_eq!(back["subject_category"], "unspecified");
    assert_eq!(back["nature"], "fact");
    // Read as if today's schema had written it, it fails: which schema wrote it matters.
    assert!(s.decode_datum(&datum).is_err());
    // Subscribers holding messages written with it can still fetch it.
    assert_eq!(s.writer_json(&fingerprint), Some(&old_json));
    assert!(s.known_fingerprints().len() >= 2);
    // Today's writes carry the new fields.
    let mut u = sample_update();
    u["subject_category"] = Json::from("suspect");
    u["nature"] = Json::from("fact");
    let now = s.decode_stored(&s.fingerprint, &s.encode_datum(&u).unwrap()).unwrap();
    assert_eq!(now["subject_category"], "suspect");
}

#[test]
fn a_history_file_must_be_named_for_its_fingerprint() {
    let (_, text) = HISTORY_FILES[0];
    let files: Vec<(&str, &str)> = SCHEMA_FILES.to_vec();
    let err = Schemas::build(&files, &[("0000000000000000", text)]).err().expect("refused").to_string();
    assert!(err.contains("history/0000000000000000.json") && err.contains("fingerprint"), "{err}");
}

/// A value of `schema` in the JSON shape: every optional field filled (`full`) or null, lists of
/// two items or empty, numbers and text varied by `seed`.
fn example(schema: &Schema, full: bool, seed: i64) -> Json {
    match schema {
        Schema::Null => Json::Null,
        Schema::Boolean => Json::Bool(seed % 2 == 0),
        Schema::Int => Json::from(-(seed as i32) * 1_000_003),
        Schema::Long => Json::from(seed * -9_000_000_000_007),
        Schema::Double => Json::from(seed as f64 * -1.25e-3),
        Schema::String => Json::from(format!("O'Hara «{seed}» \u{1F600}")),
        Schema::Uuid(_) => Json::from(uuid::Uuid::from_u128(seed as u128 * 0x0123_4567_89ab).to_string()),
        Schema::Date => Json::from(format!("19{:02}-0{}-2{}", 10 + seed % 80, 1 + seed % 9, seed % 9)),
        Schema::TimestampMicros => {
            Json::from(format!("2026-11-0{}T14:35:0{}.{:06}Z", 1 + seed % 9, seed % 10, seed * 37 % 999_999))
        }
        Schema::Array(a) if full => {
            Json::Array(vec![example(&a.items, full, seed + 1), example(&a.items, full, seed + 2)])
        }
        Schema::Array(_) => Json::Array(Vec::new()),
        Schema::Union(u) => match u.variants().iter().find(|v| !matches!(v, Schema::Null)) {
            Some(v) if full || !u.variants().iter().any(|v| matches!(v, Schema::Null)) => example(v, full, seed),
            _ => Json::Null,
        },
        Schema::Record(r) => Json::Object(
            r.fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.clone(), example(&f.schema, full, seed + i as i64)))
                .collect(),
        ),
        other => panic!("schema type {other:?} has no example"),
    }
}

#[test]
fn what_the_hub_writes_apache_avro_reads_as_the_same_record_for_every_event_type() {
    // apache-avro is the reference: it reads each datum whole, into what the hub reads back.
    let s = get().unwrap();
    let reference = GenericDatumReader::builder(s.envelope).build().unwrap();
    let Schema::Record(envelope) = s.envelope else { panic!("the envelope is a record") };
    let payload = &envelope.fields.iter().find(|f| f.name == "payload").unwrap().schema;
    let Schema::Union(branches) = payload else { panic!("payload is a union") };
    let mut checked = 0;
    for (seed, branch) in branches.variants().iter().enumerate() {
        let Schema::Record(event) = branch else { continue };
        for full in [true, false] {
            let mut update = example(s.envelope, full, seed as i64 + 3);
            update["event_type"] = Json::from(event.name.name());
            update["payload"] = example(branch, full, seed as i64 + 5);
            let datum = s.encode_datum(&update).unwrap();
            let mut rest = &datum[..];
            let read = from_avro(&reference.read_value(&mut rest).unwrap());
            assert!(rest.is_empty(), "{}: apache-avro left {} bytes", event.name.name(), rest.len());
            assert_eq!(s.decode_datum(&datum).unwrap(), read, "{}", event.name.name());
            // Timestamps come back in their canonical form, so compare past them.
            assert_eq!(read["payload"], update["payload"].clone(), "{}", event.name.name());
            assert_eq!(read["subject"], update["subject"], "{}", event.name.name());
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * s.events.len());
}

#[test]
fn a_malformed_datum_is_refused_with_where_not_read_past() {
    let s = get().unwrap();
    let datum = s.encode_datum(&sample_update()).unwrap();
    for cut in [1, datum.len() / 2, datum.len() - 1] {
        let err = s.decode_datum(&datum[..cut]).unwrap_err().to_string();
        assert!(err.contains("byte ") && err.contains("left"), "cut at {cut}: {err}");
    }
    let mut longer = datum.clone();
    longer.push(0);
    assert!(s.decode_datum(&longer).unwrap_err().to_string().contains("1 bytes after the datum"));
    // The event id's length claims far more than there is.
    let mut huge = datum.clone();
    huge[0] = 0xFE;
    huge.splice(1..1, [0xFF, 0xFF, 0xFF, 0x0F]);
    assert!(s.decode_datum(&huge).unwrap_err().to_string().contains("a length of"));
}

#[test]
fn a_list_claiming_more_items_than_its_bytes_is_refused_at_once() {
    // A list of nulls takes no bytes per item: a count of 2^62 must not be read item by item.
    let nulls = Schema::parse_str(r#"{"type": "array", "items": "null"}"#).unwrap();
    let bomb = [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00];
    let started = std::time::Instant::now();
    let err = binary::decode(&bomb, &nulls).unwrap_err().to_string();
    assert!(err.contains("items in a datum of 10 bytes"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Five nulls claimed in a datum of three bytes are refused as well; two in two bytes are read.
    assert!(binary::decode(&[0x0A, 0x0A, 0x00], &nulls).is_err());
    assert_eq!(binary::decode(&[0x04, 0x00], &nulls).unwrap(), serde_json::json!([null, null]));
}
