"""The GraphQL surface, one module per domain. Types and thin field resolvers; no I/O."""
