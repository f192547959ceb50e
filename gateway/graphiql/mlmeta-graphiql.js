// mlmeta's GraphiQL, served by the gateway with its own copies of React and GraphiQL.
// Settings come from the page's JSON block: no inline script, nothing evaluated, so
// the page runs under a Content-Security-Policy of script-src 'self'.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("mlmeta-graphiql-config").textContent);
  var url = window.location.href.split(/[?#]/)[0];
  var socket = new URL(url);
  socket.protocol = socket.protocol === "https:" ? "wss:" : "ws:";

  // HTTP requests carry config.headers (x-mlmeta-client) plus the header editor's;
  // subscriptions (graphql-transport-ws, same path) send the editor's headers in
  // connection_init, where the gateway reads Authorization.
  var fetcher = GraphiQL.createFetcher({
    url: url,
    subscriptionUrl: socket.toString(),
    headers: config.headers,
  });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var h = React.createElement;

  function hint() {
    return h(
      "div",
      { className: "mlmeta-hint" },
      "Signed in? Put ",
      h("code", null, "Bearer <token>"),
      " in the ",
      h("code", null, "Authorization"),
      " header (Headers, below the query). Headers are not saved in this browser.",
    );
  }

  function App() {
    return h(
      GraphiQL,
      {
        fetcher: fetcher,
        plugins: [explorer],
        defaultTabs: config.tabs,
        defaultHeaders: config.headersEditor,
        defaultEditorToolsVisibility: "headers",
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
        inputValueDeprecation: true,
      },
      h(GraphiQL.Logo, null, "mlmeta"),
      h(GraphiQL.Footer, null, hint()),
    );
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(h(App));
})();
