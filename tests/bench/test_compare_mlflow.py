"""The MLflow comparison's arithmetic: which method is MLflow's best, what a round's
figure is, and how the ratio's spread and verdict are read."""

from __future__ import annotations

from typing import Any

from bench.compare_mlflow import ratios
from bench.mlflow_side import add_round, summarise


def timed(samples: list[float], eligible: bool = True) -> dict[str, Any]:
    return {"samples_ms": samples, "eligible": eligible, "info": {"points": 1}}


def test_a_rounds_figure_is_the_median_of_its_reps() -> None:
    store: dict[str, dict[str, Any]] = {}
    add_round(store, {"m": timed([30.0, 10.0, 20.0])})
    add_round(store, {"m": timed([5.0])})
    assert store["m"]["rounds_ms"] == [20.0, 5.0]
    assert store["m"]["reps_ms"] == [[30.0, 10.0, 20.0], [5.0]]


def test_mlflows_best_is_the_eligible_method_with_the_lowest_median() -> None:
    store: dict[str, dict[str, Any]] = {}
    for slow, fast, sample in ((100.0, 90.0, 1.0), (110.0, 95.0, 1.0), (90.0, 200.0, 1.0)):
        add_round(
            store,
            {"slow": timed([slow]), "fast": timed([fast]), "sample": timed([sample], False)},
        )
    result = summarise(store)
    assert result["best"] == "fast"
    assert (result["min_ms"], result["median_ms"], result["max_ms"]) == (90.0, 95.0, 200.0)
    assert result["methods"]["sample"]["eligible"] is False


def test_ratios_pair_rounds_and_pass_only_when_every_round_is_within_target() -> None:
    ours = {"median_ms": 4.0, "rounds_ms": [3.0, 4.0, 6.0]}
    theirs = {"median_ms": 100.0, "rounds_ms": [100.0, 100.0, 100.0]}
    assert ratios(ours, theirs, 0.1)["verdict"] == "pass"
    spread = ratios(ours, theirs, 0.05)
    assert spread["verdict"] == "pass*"
    assert (spread["ratio_median"], spread["ratio_min"], spread["ratio_max"]) == (0.04, 0.03, 0.06)
    assert ratios(ours, theirs, 0.03)["verdict"] == "MISS"
