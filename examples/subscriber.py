#!/usr/bin/env python3
"""A subscriber in Python (pika + fastavro): drains an agency's outbound queue and decodes each
delivery with the writer schema fetched from the hub by its fingerprint.

    pip install pika fastavro
    TRACKER_HTTP_USER=sub TRACKER_HTTP_PASSWORD=... \
    python3 examples/subscriber.py court-b05lv00 [amqp://guest:guest@127.0.0.1:5672/%2f] [http://127.0.0.1:8080]

The schema endpoint needs a user of the hub's HTTP interface (any role; `subscriber` is enough).
"""
import base64, io, json, os, sys, urllib.request

import pika
from fastavro import parse_schema, schemaless_reader

agency = sys.argv[1] if len(sys.argv) > 1 else "court-b05lv00"
amqp = sys.argv[2] if len(sys.argv) > 2 else "amqp://guest:guest@127.0.0.1:5672/%2f"
http = sys.argv[3] if len(sys.argv) > 3 else "http://127.0.0.1:8080"

schemas = {}
conn = pika.BlockingConnection(pika.URLParameters(amqp))
channel = conn.channel()
while True:
    method, props, body = channel.basic_get(f"tracker.out.{agency}")
    if method is None:
        break
    assert body[:2] == b"\xc3\x01", "not Avro single-object encoded"
    fingerprint = body[2:10].hex()
    if fingerprint not in schemas:
        req = urllib.request.Request(f"{http}/schemas/{fingerprint}")
        creds = f"{os.environ.get('TRACKER_HTTP_USER', '')}:{os.environ.get('TRACKER_HTTP_PASSWORD', '')}"
        req.add_header("Authorization", "Basic " + base64.b64encode(creds.encode()).decode())
        with urllib.request.urlopen(req) as r:
            schemas[fingerprint] = parse_schema(json.load(r))
    record = schemaless_reader(io.BytesIO(body[10:]), schemas[fingerprint])
    ids = ", ".join(f"{i['scheme']} {i['value']}" for i in record["subject"]["identifiers"])
    d = record["disclosure"]
    print(f"{props.type:<24} {ids:<40} {d['agreement']}{' (catch-up)' if d['catch_up'] else ''} withheld={record['redacted']}")
    channel.basic_ack(method.delivery_tag)
conn.close()
