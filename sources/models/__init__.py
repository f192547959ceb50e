"""The model-registry domain (models, versions, deployments, cards), independent of source."""
