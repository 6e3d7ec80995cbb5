// Playing Telnyx in the e2e tests: its call events, signed as Telnyx signs them (Ed25519
// over "<timestamp>|<body>", with the RFC 8032 §7.1 test 1 key pair the signature vectors
// use), posted to the server's webhook.
import * as crypto from 'node:crypto';
import { expect } from '@playwright/test';

const SECRET = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
/** What the server is started with as SWITCHBOARD_TELNYX_PUBLIC_KEY. */
export const TELNYX_PUBLIC_KEY = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=';
const KEY = crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SECRET]),
  format: 'der',
  type: 'pkcs8',
});

/** Posts a Telnyx call event to the server at `base`, signed; it must be taken. */
export async function telnyxEvent(base: string, eventType: string, payload: Record<string, unknown>) {
  const body = JSON.stringify({
    data: { event_type: eventType, id: crypto.randomUUID(), occurred_at: new Date().toISOString(), payload, record_type: 'event' },
  });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = crypto.sign(null, Buffer.from(`${timestamp}|${body}`), KEY).toString('base64');
  const res = await fetch(`${base}/webhooks/telnyx`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'telnyx-timestamp': timestamp, 'telnyx-signature-ed25519': signature },
    body,
  });
  expect(res.status).toBe(200);
}
