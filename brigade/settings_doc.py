"""`python -m brigade.settings_doc [--write]`: the markdown table of every setting; `--write` puts it
into the README between its settings markers. A test keeps the README and the settings in step."""

from __future__ import annotations

import re
import sys

from brigade.settings import ROOT, describe

README = ROOT / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def _default(value: object) -> str:
    text = str(value)
    if text.startswith(str(ROOT)):
        text = "<repo>" + text[len(str(ROOT)):]
    return f"`{text}`" if text != "" else "(empty)"


def table() -> str:
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {_default(default)} | {help_text} |" for name, default, help_text in describe()]
    return "\n".join(rows)


def readme_table() -> str:
    match = re.search(f"{re.escape(START)}\n(.*?)\n{re.escape(END)}", README.read_text(), flags=re.S)
    return match.group(1) if match else ""


def write_readme() -> None:
    text = README.read_text()
    README.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S))


if __name__ == "__main__":
    write_readme() if "--write" in sys.argv else print(table())
