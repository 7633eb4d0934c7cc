"""The `creditflow` command line: one click group; each command lives in the module of its area."""

from __future__ import annotations

import logging

import click

from workflows.cli import admin, instances, setup
from workflows.cli.kpis_cli import kpis_command
from workflows.cli.what_if_cli import what_if_command


@click.group()
def main() -> None:
    """creditflow: credit management processes run as BPMN diagrams."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# Listed here, not registered on import, so the command table is one place to read.
for command in (
    setup.init,
    setup.serve,
    setup.prefect_group,
    setup.validate,
    setup.deploy,
    instances.start,
    instances.tasks,
    instances.complete,
    instances.message,
    instances.retry,
    instances.tick_command,
    admin.users,
    admin.import_command,
    admin.dunning_run_command,
    admin.provisions_command,
    kpis_command,
    admin.limit_review_sweep_command,
    what_if_command,
):
    main.add_command(command)
