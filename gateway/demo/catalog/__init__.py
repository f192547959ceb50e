"""Backstage ``catalog-info.yaml`` files of the demo (package data, see ``catalog_files``)."""
