// Compose subgraphs with Apollo's own composition (what `rover supergraph compose`
// and GraphOS run). stdin: [{"name", "url", "sdl"}]. stdout: {"errors", "hints",
// "supergraphSdl"} as JSON.
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const services = JSON.parse(input).map((s) => ({
  name: s.name,
  url: s.url,
  typeDefs: parse(s.sdl),
}));
const result = composeServices(services);
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map((e) => ({ code: e.extensions?.code, message: e.message })),
    hints: (result.hints ?? []).map((h) => ({ code: h.definition.code, message: h.message })),
    supergraphSdl: result.supergraphSdl ?? null,
  }),
);
