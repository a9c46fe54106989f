//! A subscriber in Rust: drains its agency's outbound queue and decodes each delivery (Avro
//! single-object encoding) with the writer schema fetched from the hub by its fingerprint.
//!
//!     TRACKER_HTTP_USER=sub TRACKER_HTTP_PASSWORD=... \
//!     cargo run --example subscriber -- court-b05lv00 [amqp://guest:guest@127.0.0.1:5672/%2f] [http://127.0.0.1:8080]
//!
//! The schema endpoint needs a user of the hub's HTTP interface (any role; `subscriber` is enough).
use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use lapin::options::{BasicAckOptions, BasicGetOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let agency = args.get(1).cloned().unwrap_or_else(|| "court-b05lv00".into());
    let amqp = args.get(2).cloned().unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let http = args.get(3).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let conn = lapin::Connection::connect(&amqp, lapin::ConnectionProperties::default()).await?;
    let ch = conn.create_channel().await?;
    let mut schemas: HashMap<String, Schema> = HashMap::new();
    let queue = format!("tracker.out.{agency}");
    while let Some(message) = ch.basic_get(queue.as_str().into(), BasicGetOptions::default()).await? {
        let body = &message.delivery.data;
        anyhow::ensure!(body.len() > 10 && body[..2] == [0xC3, 0x01], "not Avro single-object encoded");
        let fingerprint = hex(&body[2..10]);
        if !schemas.contains_key(&fingerprint) {
            let user = std::env::var("TRACKER_HTTP_USER").unwrap_or_default();
            let password = std::env::var("TRACKER_HTTP_PASSWORD").unwrap_or_default();
            use base64::Engine;
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let text = ureq::get(&format!("{http}/schemas/{fingerprint}"))
                .header("Authorization", &format!("Basic {auth}"))
                .call()?
                .into_body()
                .read_to_string()?;
            schemas.insert(fingerprint.clone(), Schema::parse_str(&text)?);
        }
        let schema = &schemas[&fingerprint];
        let record = GenericDatumReader::builder(schema).build()?.read_value(&mut &body[10..])?;
        println!(
            "{} {:?}\n  {record:?}",
            message.delivery.properties.kind().as_ref().map_or("", |t| t.as_str()),
            message.delivery.properties.message_id()
        );
        message.delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    conn.close(200, "done".into()).await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
