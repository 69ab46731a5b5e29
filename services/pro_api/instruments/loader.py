"""Load and validate instrument definition files into an ``InstrumentCatalog``.

The shipped files live in ``data/`` next to this module. A site holding an EORTC licence
puts its licensed files in a directory of its own and passes that directory here (the
caller reads it from ``CAPTEM_INSTRUMENTS_DIR``; this module never reads the environment).

Override rule: the site directory is layered over the shipped files. Each ``*.json`` file
in it defines an instrument by its ``code``; a site file with the same code as a shipped
one replaces it, a new code is added. So a site replaces ``qlq-ginet21`` by dropping its
licensed ``qlq-ginet21`` definition into its directory, and the shipped ``eortc-net``
composition picks it up by reference.

Any invalid file stops the load with an ``InstrumentFileError`` naming the file and field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.pro_api.instruments.catalog import Instrument, InstrumentCatalog
from services.pro_api.instruments.schema import Composition, Questionnaire

PACKAGE_DATA_DIR = Path(__file__).parent / "data"


class InstrumentFileError(ValueError):
    """An instrument definition file is unreadable or invalid."""


def load_instruments(directory: Path | None = None) -> InstrumentCatalog:
    """Read, validate and resolve the shipped definitions, overlaid by ``directory``'s."""
    definitions = _read_directory(PACKAGE_DATA_DIR)
    if directory is not None:
        if not directory.is_dir():
            raise InstrumentFileError(f"{directory}: instruments directory does not exist")
        definitions.update(_read_directory(directory))
    return _resolve(definitions)


Definition = tuple[Path, Questionnaire | Composition]


def _read_directory(directory: Path) -> dict[str, Definition]:
    definitions: dict[str, Definition] = {}
    for path in sorted(directory.glob("*.json")):
        definition = parse_instrument_file(path)
        if definition.code in definitions:
            other = definitions[definition.code][0]
            raise InstrumentFileError(
                f"{path}: code: {definition.code!r} is already defined by {other.name}"
            )
        definitions[definition.code] = (path, definition)
    return definitions


def parse_instrument_file(path: Path) -> Questionnaire | Composition:
    """Parse and validate one file; errors name the file and the field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InstrumentFileError(
            f"{path}: not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except OSError as error:
        raise InstrumentFileError(f"{path}: cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise InstrumentFileError(f"{path}: must hold a JSON object")
    kind = data.get("type")
    model: type[Questionnaire] | type[Composition]
    if kind == "questionnaire":
        model = Questionnaire
    elif kind == "composition":
        model = Composition
    else:
        raise InstrumentFileError(
            f"{path}: type: must be 'questionnaire' or 'composition'; got {kind!r}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_describe(problem, data) for problem in error.errors())
        raise InstrumentFileError(f"{path}: {problems}") from error


def _describe(problem: Any, data: dict[str, Any]) -> str:
    location = _location(problem["loc"], data)
    message = problem["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def _location(loc: Iterable[int | str], data: Any) -> str:
    """``('items', 3, 'options', 0, 'code')`` -> ``items[3] (item 4).options[0].code``.

    List indices into ``items`` and ``scales`` also show the item number or scale code,
    which is what a person editing the file searches for."""
    text = ""
    node = data
    key: int | str = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and key == "items" and "number" in node:
                text += f" (item {node['number']})"
            elif isinstance(node, dict) and key in ("scales", "summary_scores"):
                text += f" ({node.get('code')})"
        elif part != "root":  # "root" is pydantic's name for a RootModel's value
            text += f".{part}" if text else part
            node = node.get(part) if isinstance(node, dict) else None
        key = part
    return text


def _resolve(definitions: dict[str, Definition]) -> InstrumentCatalog:
    questionnaires = {
        code: definition
        for code, (_, definition) in definitions.items()
        if isinstance(definition, Questionnaire)
    }
    instruments: dict[str, Instrument] = {
        code: Instrument.of_questionnaire(questionnaire)
        for code, questionnaire in questionnaires.items()
    }
    for code, (path, definition) in definitions.items():
        if not isinstance(definition, Composition):
            continue
        parts = []
        for index, part in enumerate(definition.parts):
            if part not in questionnaires:
                raise InstrumentFileError(
                    f"{path}: parts[{index}]: no questionnaire {part!r} is defined "
                    f"(defined: {sorted(questionnaires)})"
                )
            parts.append(questionnaires[part])
        try:
            instruments[code] = Instrument(code=code, name=definition.name, parts=tuple(parts))
        except ValueError as error:
            raise InstrumentFileError(f"{path}: parts: {error}") from error
    sources = {code: path for code, (path, _) in definitions.items()}
    return InstrumentCatalog(instruments=instruments, sources=sources)
