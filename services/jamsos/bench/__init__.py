"""`jamsos bench`: the pipeline and billing benchmarks (figures, never assertions)."""
