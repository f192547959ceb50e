"""The developer portal's software catalog: Backstage's REST API or a local folder."""
