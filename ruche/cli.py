"""The `ruche` command: sets the settings module and hands off to Django's management commands.

ruche serve [--host 127.0.0.1] [--port 8000] [--workers N]
ruche migrate
ruche demo [--deals N] [--seed S]
ruche user create EMAIL --role admin|manager|rep [--team NAME] [--password P]
ruche token create EMAIL [--name NAME]
ruche worker                      (background jobs: django-tasks-db's db_worker)
ruche import ENTITY FILE [--mapping MAP.json] [--dry-run] [--json] [--on-error skip]
ruche import all DIR | ruche import undo RUN_ID | ruche export all DIR
ruche forecast backtest|projection|score [--json]
ruche billing_reminders [--date D] [--schedule] | ruche export_fec --from D --to D FILE
ruche reports_deliver [--date D] [--schedule]   (scheduled report emails and alerts)
ruche <any Django command>        (shell, check, createsuperuser, changepassword...)
"""

import os
import sys

# `ruche NAME` runs the management command ALIASES.get(NAME, NAME).
ALIASES = {"worker": "db_worker"}

USAGE = "\n".join("  " + line for line in __doc__.split("\n\n", 1)[1].strip().splitlines())


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ALIASES:
        args[0] = ALIASES[args[0]]
    if not args or args == ["--help"] or args == ["-h"]:
        print("Ruche, the sales-pipeline CRM.\n\nUsage:\n" + USAGE + "\n")
        print("`ruche help` lists every command; `ruche help COMMAND` describes one.")
        return

    from django.core.management import execute_from_command_line

    execute_from_command_line(["ruche", *args])


if __name__ == "__main__":
    main()
