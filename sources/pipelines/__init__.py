"""What every pipeline source (Step Functions, SageMaker, pushed runs) returns."""
