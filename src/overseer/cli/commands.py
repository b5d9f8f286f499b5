"""Every command, attached to the app in one place so the CLI's surface reads as a list."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from overseer.cli import breakpoint_cmd, config_cmd, demo_cmd, init_cmd, plan_cmd, run_cmd
    from overseer.cli.rollback_cmd import rollback

    app.command("init")(init_cmd.init)
    app.command("validate")(plan_cmd.validate)
    app.command("plan")(plan_cmd.plan)
    app.command("run")(run_cmd.run)
    app.command("status")(run_cmd.status)
    app.command("resume")(run_cmd.resume)
    app.command("cancel")(run_cmd.cancel)
    app.command("rollback")(rollback)
    app.command("approve")(breakpoint_cmd.approve)
    app.command("reject")(breakpoint_cmd.reject)
    app.command("answer")(breakpoint_cmd.answer)
    from overseer.cli import pause_cmd

    app.command("pause")(pause_cmd.pause)
    app.command("continue")(pause_cmd.continue_)
    from overseer.cli.watch_cmd import watch

    app.command("watch")(watch)
    from overseer.cli.worker_cmd import worker

    app.command("worker")(worker)
    app.command("demo")(demo_cmd.demo)
    from overseer.cli.doctor_cmd import doctor

    app.command("doctor")(doctor)
    from overseer.cli.stats_cmd import stats

    app.command("stats")(stats)
    from overseer.cli.bench_cmd import bench

    app.command("bench")(bench)
    from overseer.cli.prune_cmd import prune

    app.command("prune")(prune)
    from overseer.cli import report_cmd

    app.command("log")(report_cmd.log)
    app.command("export")(report_cmd.export)
    from overseer.cli import show_cmd

    app.command("show")(show_cmd.show)
    from overseer.cli.steer_cmd import steer

    app.command("steer")(steer)
    app.command("diff")(show_cmd.diff)
    from overseer.cli.serve_cmd import serve

    app.command("serve")(serve)
    schema_app = typer.Typer(help="Print JSON Schemas for editors.", no_args_is_help=True)
    schema_app.command("plan")(plan_cmd.schema_plan)
    schema_app.command("show")(show_cmd.schema_show)
    app.add_typer(schema_app, name="schema")
    app.add_typer(config_cmd.config_app, name="config")
