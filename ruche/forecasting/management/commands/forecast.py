"""`ruche forecast backtest [--months N] [--json]`, `ruche forecast projection [--json]`,
`ruche forecast score` and `ruche forecast tallies`."""

import datetime as dt
import json
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from ruche.forecasting import stage_tallies
from ruche.forecasting.backtest import METHODS, backtest
from ruche.forecasting.projection import projection


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class Command(BaseCommand):
    help = (
        "Revenue projection tools. `backtest` replays the last N complete months from the "
        "history and reports each method's MAPE per month and per quarter; `projection` "
        "prints the next 12 months; `score` retrains the deal-scoring model, scores the "
        "open deals and reports AUC and Brier; `tallies` checks the stage tallies against the "
        "stage entries and computes them again if they differ (after a change of time zone)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("backtest", "projection", "score", "tallies"))
        parser.add_argument("--months", type=int, default=12, help="Cutoffs to replay (12).")
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument(
            "--today", type=dt.date.fromisoformat, default=None, help="Reference day (today)."
        )

    def handle(self, *args, **options):
        if options["months"] < 1:
            raise CommandError("--months: at least 1.")
        if options["action"] == "score":
            return self._score(options)
        if options["action"] == "tallies":
            return self._tallies()
        if options["action"] == "projection":
            result = projection(None)
            if options["json"]:
                self.stdout.write(json.dumps(result, default=_default, indent=2))
                return
            self.stdout.write(f"Projection ({result['currency']}, 90% interval)")
            if result["note"]:
                self.stdout.write(result["note"])
            for row in result["months"]:
                self.stdout.write(
                    f"{row['month']}  {row['projected']:>14}  [{row['low']} - {row['high']}]"
                    f"  won {row['won_to_date']}  pipeline {row['expected_from_pipeline']}"
                    f"  run-rate {row['run_rate']}"
                )
            return
        result = backtest(None, months=options["months"], today=options["today"])
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "currency": result["currency"],
                        "mape": result["mape"],
                        "monthly": result["monthly"],
                        "quarterly": result["quarterly"],
                    },
                    default=_default,
                    indent=2,
                )
            )
            return
        self.stdout.write(
            f"Backtest over {options['months']} monthly cutoffs ({result['currency']})"
        )
        for kind in ("monthly", "quarterly"):
            self.stdout.write(f"\n{kind.capitalize()}: period, actual, " + ", ".join(METHODS))
            for row in result[kind]:
                self.stdout.write(
                    f"  {row['period']:<18} {row['actual']:>14} "
                    + " ".join(f"{row[m]:>14} ({row[m + '_error_percent']}%)" for m in METHODS)
                )
            self.stdout.write(
                "  MAPE: " + ", ".join(f"{m} {result['mape'][kind][m]}%" for m in METHODS)
            )

    def _score(self, options):
        from ruche.forecasting.scoring import train

        record = train()
        result = {
            "model_id": record.pk,
            "fallback": record.fallback,
            "note": record.note,
            "train_examples": record.train_examples,
            "test_examples": record.test_examples,
            "auc": record.auc,
            "brier": record.brier,
            "reliability": record.reliability,
            "scored_deals": record.scores.count(),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(record.note)
        self.stdout.write(
            f"AUC {record.auc}  Brier {record.brier}  "
            f"({record.train_examples} train / {record.test_examples} test snapshots)"
        )
        for row in record.reliability:
            self.stdout.write(
                f"  predicted {row['from']:.1f}-{row['to']:.1f}: {row['deals']} deals, "
                f"mean {row['predicted']:.3f}, observed {row['observed']:.3f}"
            )
        self.stdout.write(f"{result['scored_deals']} open deals scored.")

    def _tallies(self):
        differing = stage_tallies.drift()
        if differing:
            stage_tallies.rebuild_all()
            self.stdout.write(f"{differing} tally amounts (stage, MRR) differed: computed again.")
        else:
            self.stdout.write("The stage and MRR tallies match the stage entries and contracts.")
