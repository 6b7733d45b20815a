"""``.. hilander-cli::``: the command-line reference, generated from the parsers at build time.

The directive calls :func:`hilander.cli.build_parser` and renders every command (and every
form of ``embed`` / ``encoder``) as a section: its one-line summary, usage, description and
options with their help and defaults. Nothing is copied by hand, so an option added to a
parser appears in the docs at the next build. Each section gets the label ``cli-<command>``
(``cli-embed-text`` for ``hilander embed text``) for ``:ref:`` links from the guide.

Docutils nodes are built directly, not reStructuredText: help strings hold backticks, ``*``
and ``|`` that rst would parse (and ``-W`` would fail on), and they are shown as written.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field

from docutils import nodes
from docutils.parsers.rst import Directive

#: usage and raw descriptions are wrapped as a terminal of this width would show them; fixed
#: so the page does not depend on the building machine's terminal
WIDTH = 80


@dataclass
class Option:
    invocation: str  # "--out OUT", "-q, --quiet", "features"
    help: str
    positional: bool


@dataclass
class Command:
    prog: str  # "hilander embed text"
    summary: str  # the help line the parent's subcommand list shows
    usage: str
    description: str
    raw_description: bool  # RawDescriptionHelpFormatter: keep the line breaks
    options: list[Option] = field(default_factory=list)
    subcommands: list[Command] = field(default_factory=list)

    @property
    def label(self) -> str:
        words = self.prog.split()[1:]
        return "cli-" + "-".join(words) if words else "cli-hilander"


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return parser.formatter_class(prog=parser.prog, width=WIDTH)


def _help_of(fmt: argparse.HelpFormatter, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    # argparse's own expansion of %(default)s, %(choices)s... as --help prints them
    return " ".join(fmt._expand_help(action).split())


def describe(parser: argparse.ArgumentParser, summary: str = "") -> Command:
    """What ``parser --help`` says, as data: usage, description, options, sub-commands."""
    fmt = _formatter(parser)
    fmt.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups, prefix="")
    raw = issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter)
    cmd = Command(prog=parser.prog, summary=summary, usage=fmt.format_help().strip(),
                  description=(parser.description or "").strip(), raw_description=raw)
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction,)):
            continue  # every command has -h/--help; the page says so once
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                cmd.subcommands.append(describe(sub, helps.get(name, "")))
            continue
        cmd.options.append(Option(
            invocation=_formatter(parser)._format_action_invocation(action),
            help=_help_of(_formatter(parser), action),
            positional=not action.option_strings))
    return cmd


#: `backticked` spans, and --options with their KEY=VALUE (smart quotes would make "--" a dash)
_CODE = re.compile(r"`([^`]+)`|(?<![\w-])(--?[A-Za-z][\w-]*"
                   r"(?:=[\w.,=-]+| [A-Z][A-Z_|]*\b| \w+=[\w.,-]*\w)?)")


def _inline(text: str) -> list[nodes.Node]:
    """Plain text with `backticked` spans and --options shown as code, as help means them."""
    out: list[nodes.Node] = []
    pos = 0
    for m in _CODE.finditer(text):
        if m.start() > pos:
            out.append(nodes.Text(text[pos:m.start()]))
        code = m.group(1) or m.group(2)
        out.append(nodes.literal(code, code))
        pos = m.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"  # not Python: no highlighting of a shell line
    return block


def _description_block(block: str, raw: bool) -> nodes.Node:
    """One blank-line-separated block of a description, as ``--help`` means it: command
    lines stay literal, hard-wrapped prose becomes a paragraph, other raw lines keep their
    breaks (a raw description's line breaks are deliberate; a plain one's are not)."""
    lines = block.strip("\n").splitlines()
    if raw and lines[0].startswith("hilander ") \
            and all(ln.startswith(("hilander ", " ")) for ln in lines):
        return _literal("\n".join(lines))
    wrapped = all(60 <= len(ln) <= 100 for ln in lines[:-1])
    if raw and len(lines) > 1 and not wrapped:
        return nodes.line_block("", *(nodes.line("", "", *_inline(ln.strip())) for ln in lines))
    return nodes.paragraph("", "", *_inline(" ".join(block.split())))


def _command_list(cmd: Command) -> nodes.bullet_list:
    items = nodes.bullet_list()
    for sub in cmd.subcommands:
        ref = nodes.reference("", "", nodes.literal(sub.prog, sub.prog),
                              refid=sub.label, internal=True)
        items += nodes.list_item("", nodes.paragraph("", "", ref, nodes.Text(": "),
                                                     *_inline(sub.summary)))
    return items


def _options_list(options: list[Option]) -> nodes.definition_list:
    dl = nodes.definition_list(classes=["hilander-cli-options"])
    for opt in options:
        term = nodes.term("", "", nodes.literal(opt.invocation, opt.invocation))
        body = nodes.definition("", nodes.paragraph("", "", *_inline(opt.help or "(no help)")))
        dl += nodes.definition_list_item("", term, body)
    return dl


def to_section(cmd: Command, document) -> nodes.section:
    section = nodes.section(ids=[cmd.label], names=[cmd.label])
    section += nodes.title(cmd.prog, "", nodes.literal(cmd.prog, cmd.prog))
    # an explicit target, so the std domain records it as a label for :ref:`cli-...`
    document.note_explicit_target(section)
    if cmd.summary:
        section += nodes.paragraph("", "", nodes.emphasis("", "", *_inline(cmd.summary)))
    section += _literal(cmd.usage)
    for block in re.split(r"\n\s*\n", cmd.description):
        if block.strip():
            section += _description_block(block, cmd.raw_description)
    for title, opts in (("Arguments", [o for o in cmd.options if o.positional]),
                        ("Options", [o for o in cmd.options if not o.positional])):
        if opts:
            section += nodes.rubric(title, title)
            section += _options_list(opts)
    if cmd.subcommands:
        section += nodes.rubric("Forms", "Forms")
        section += _command_list(cmd)
        for sub in cmd.subcommands:
            section += to_section(sub, document)
    return section


def hilander_commands() -> Command:
    from hilander.cli import build_parser

    return describe(build_parser())


class HilanderCliDirective(Directive):
    """Every ``hilander`` command as a section; the top-level usage first."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        top = hilander_commands()
        document = self.state.document
        env = document.settings.env
        if not hasattr(env, "hilander_cli_docs"):
            env.hilander_cli_docs = set()
        env.hilander_cli_docs.add(env.docname)
        out: list[nodes.Node] = [_literal(top.usage)]
        if top.options:
            out.append(_options_list(top.options))
        out.append(_command_list(top))
        out.extend(to_section(sub, document) for sub in top.subcommands)
        return out


def _always_reread(app, env, added, changed, removed) -> list[str]:
    # the parsers change without the page's rst changing: read it again at every build
    return sorted(getattr(env, "hilander_cli_docs", set()) - set(removed))


def _purge(app, env, docname) -> None:
    getattr(env, "hilander_cli_docs", set()).discard(docname)


def _merge(app, env, docnames, other) -> None:
    if not hasattr(env, "hilander_cli_docs"):
        env.hilander_cli_docs = set()
    env.hilander_cli_docs |= getattr(other, "hilander_cli_docs", set()) & set(docnames)


def setup(app):
    app.add_directive("hilander-cli", HilanderCliDirective)
    app.connect("env-get-outdated", _always_reread)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
