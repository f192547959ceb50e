// A federation router: Apollo Gateway in Apollo Server, over a supergraph SDL.
// argv: <supergraph.graphql> <port>. Prints "listening <url>" once it serves.
// Each subgraph request carries the caller's Authorization and traceparent headers
// (buildService / willSendRequest), as a portal's router would forward them.
import { readFileSync } from "node:fs";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";

const [supergraphPath, port] = process.argv.slice(2);
const FORWARDED = ["authorization", "traceparent"];

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(supergraphPath, "utf8"),
  buildService: ({ url }) =>
    new RemoteGraphQLDataSource({
      url,
      willSendRequest({ request, context }) {
        for (const name of FORWARDED) {
          if (context.headers?.[name]) request.http.headers.set(name, context.headers[name]);
        }
      },
    }),
});
const server = new ApolloServer({ gateway, introspection: true });
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: Number(port) },
  context: async ({ req }) => ({
    headers: Object.fromEntries(FORWARDED.map((name) => [name, req.headers[name]])),
  }),
});
console.log(`listening ${url}`);
