// Runs graphql-http's server audit against the URL given as the only argument and
// prints one JSON array: [{id, name, status, reason?, responseStatus?}] per audit.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs <graphql url>');
  process.exit(2);
}
const results = await auditServer({ url });
const printable = await Promise.all(
  results.map(async (result) => {
    if (result.status === 'ok') return { id: result.id, name: result.name, status: 'ok' };
    // A failure carries the Response: its status and body are what the reader needs.
    let body = '';
    try {
      body = await result.response.text();
    } catch {
      body = '<body already read>';
    }
    return {
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.reason,
      responseStatus: result.response.status,
      responseBody: body.slice(0, 500),
    };
  }),
);
console.log(JSON.stringify(printable));
