/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a proxy (the service's
 * pass-through, the emulator's gateway) never forwards them; each proxy adds the headers it also keeps back.
 */
export const HOP_BY_HOP_REQUEST: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
];

/** In a response, `proxy-connection` and `te` cannot occur; the rest is per connection as in a request. */
export const HOP_BY_HOP_RESPONSE: readonly string[] = [
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "trailer",
];
