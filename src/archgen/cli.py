"""archgen's command line: parse, call, report.  Heavy imports stay inside commands so
``--help`` is instant."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from archgen import __version__

if TYPE_CHECKING:
    from archgen.answers import Question

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class BadInput(click.ClickException):
    """A bad value from the user: one line, exit 2, nothing written."""

    exit_code = EXIT_BAD_INPUT


class Failed(click.ClickException):
    exit_code = 1


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stdout.isatty()
    except (ValueError, OSError):  # closed or detached stdin
        return False


def _parse_data(questions: Mapping[str, Question], pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--data KEY=VALUE`` pairs, each value read as its question's type."""
    from archgen import answers as rules

    data: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(
                f"--data {pair!r} is not KEY=VALUE; write e.g. --data domains=orders,payments"
            )
        data[key] = rules.parse_value(questions[key], value) if key in questions else value
    return data


def _recorded_url(url: str) -> str:
    """A local template path is recorded absolute: `copier update` runs from elsewhere."""
    path = Path(url).expanduser()
    return str(path.resolve()) if "://" not in url and path.exists() else url


DATA_HELP = (
    "An answer, KEY=VALUE (repeatable). Lists as YAML/JSON or comma-separated: "
    "domains='[orders, payments]' or domains=orders,payments."
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(__version__, "-V", "--version", prog_name="archgen")
@click.pass_context
def main(ctx: click.Context) -> None:
    """archgen renders backend services that already work (contracts, tests, migrations
    wired in) from a copier template, and keeps them up to date with `archgen update`.

    Start with `archgen new DEST`; `archgen COMMAND --help` explains each command."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@main.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option(
    "--defaults", is_flag=True, help="Use the default for every answer not given; never prompt."
)
@click.option("-d", "--data", "data_pairs", multiple=True, metavar="KEY=VALUE", help=DATA_HELP)
@click.option(
    "-a",
    "--answers-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A YAML file of answers (e.g. another project's .copier-answers.yml); "
    "--data wins over it.",
)
@click.option(
    "--force", is_flag=True, help="Write into a non-empty DEST, replacing files of the same name."
)
@click.option(
    "--template",
    "template_url",
    metavar="URL",
    help="The template git repository to record for `copier update` "
    "(default: $ARCHGEN_TEMPLATE_URL or archgen's canonical repository).",
)
@click.option("--no-git", is_flag=True, help="Skip `git init` and the initial commit.")
@click.option("-y", "--yes", is_flag=True, help="Don't ask to confirm the summary.")
def new(
    dest: Path,
    defaults: bool,
    data_pairs: tuple[str, ...],
    answers_file: Path | None,
    force: bool,
    template_url: str | None,
    no_git: bool,
    yes: bool,
) -> None:
    """Create a new service in DEST.

    Asks for what is not given (when run in a terminal), shows what it will build, then
    renders it: into a temporary folder beside DEST, moved into place only when all went
    well, then `git init` and an initial commit.

    \b
    Examples:
      archgen new shop
      archgen new shop --defaults --data project_name="Acme Shop" --data domains=orders,payments
      archgen new shop --answers-file answers.yml
    """
    from archgen import answers as rules
    from archgen import render, summary
    from archgen.template import template_ref, template_root
    from archgen.template import template_url as default_url

    root = template_root()
    questions = rules.load_questions(root)
    try:
        render.check_destination(dest.absolute(), force=force)
        given: dict[str, Any] = {}
        if answers_file is not None:
            given.update(rules.load_answers_file(answers_file))
        given.update(_parse_data(questions, data_pairs))
        given = rules.check_given(questions, given)

        interactive = _interactive() and not defaults
        if interactive:
            from archgen import prompts

            given = prompts.ask_missing(questions, given, root)
        elif not defaults and (missing := rules.missing(questions, given, root)):
            raise BadInput(
                f"no terminal to ask for: {', '.join(missing)}; "
                "pass --defaults to use their defaults, or give them with --data KEY=VALUE"
            )
        answers = rules.complete(questions, given, root)
    except rules.AnswerError as error:
        raise BadInput(str(error)) from None
    except render.DestinationError as error:
        raise BadInput(str(error)) from None
    except KeyboardInterrupt:
        click.echo("\nAborted; nothing was written.", err=True)
        sys.exit(EXIT_INTERRUPTED)

    text = summary.describe(dest, answers, root)
    if interactive and not yes:
        from archgen import prompts

        try:
            if not prompts.confirm(text):
                click.echo("Cancelled; nothing was written.", err=True)
                sys.exit(1)
        except KeyboardInterrupt:
            click.echo("\nAborted; nothing was written.", err=True)
            sys.exit(EXIT_INTERRUPTED)
    else:
        click.echo(text)

    try:
        result = render.new_project(
            dest,
            answers,
            src_url=_recorded_url(template_url or default_url()),
            ref=template_ref(),
            force=force,
            git=not no_git,
        )
    except render.DestinationError as error:
        raise BadInput(str(error)) from None
    except render.RenderError as error:
        raise Failed(f"{error}; nothing was written") from None
    except KeyboardInterrupt:
        click.echo("\nAborted; nothing was written.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    click.echo(summary.next_steps(result, answers))


@main.command()
@click.argument(
    "project",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=".",
    required=False,
)
@click.option(
    "-d",
    "--data",
    "data_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change an answer (KEY=VALUE, repeatable; lists as in `archgen new`), "
    "e.g. --data domains=orders,payments,refunds to add a domain.",
)
@click.option(
    "--vcs-ref",
    metavar="REF",
    help="The template tag or commit to update to (default: the latest tag).",
)
@click.option(
    "--conflict",
    type=click.Choice(["inline", "rej"]),
    default="inline",
    show_default=True,
    help="Leave conflicts as <<<<<<< markers in the file, or as .rej files beside it.",
)
def update(
    project: Path,
    data_pairs: tuple[str, ...],
    vcs_ref: str | None,
    conflict: Literal["inline", "rej"],
) -> None:
    """Pull template improvements into PROJECT (default: the current folder).

    A thin wrapper on `copier update`: it needs a clean git work tree, re-renders the
    project at its recorded template tag and at the new one, and merges the difference
    into your files, keeping your own edits. Files where both changed the same lines are
    listed; resolve their markers, then commit.
    """
    from archgen import answers as rules
    from archgen import render
    from archgen.template import template_root

    questions = rules.load_questions(template_root())
    try:
        given = rules.check_given(questions, _parse_data(questions, data_pairs))
        conflicts = render.update_project(project, data=given, vcs_ref=vcs_ref, conflict=conflict)
    except rules.AnswerError as error:
        raise BadInput(str(error)) from None
    except render.DestinationError as error:
        raise BadInput(str(error)) from None
    except render.RenderError as error:
        raise Failed(str(error)) from None
    if conflicts:
        listing = "\n".join(f"  {name}" for name in conflicts)
        click.echo(f"Updated with conflicts in:\n{listing}\nResolve them, then commit.", err=True)
        sys.exit(1)
    click.echo("Updated. Review with `git diff`, then commit.")
