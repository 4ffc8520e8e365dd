"""The deploy files are valid: compose against the Compose Specification's schema,
Kibana objects against the index template."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from newsflow.infra import DEADLETTER_TEMPLATE_FILE
from newsflow.paths import KIBANA_DIR, REPO, TEMPLATE_FILE

# The Compose Specification's JSON schema ships inside the docker-compose
# wheel on PyPI; `make test` downloads that wheel into the cache (see Makefile).
SCHEMA_WHEEL_DIR = REPO / ".cache" / "compose-schema"


def _compose_schema() -> dict[str, Any]:
    wheels = sorted(SCHEMA_WHEEL_DIR.glob("docker_compose-*.whl"))
    assert wheels, f"no docker-compose wheel in {SCHEMA_WHEEL_DIR}: run `make test` (it fetches it)"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return json.loads(wheel.read("compose/config/compose_spec.json"))


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification() -> None:
    jsonschema.validate(_compose(), _compose_schema())


def test_workers_can_scale() -> None:
    services = _compose()["services"]
    for stage in ("fetcher", "cleaner", "dedup", "indexer"):
        assert "container_name" not in services[stage]
        assert "ports" not in services[stage]


def test_each_worker_is_probed_and_scraped_on_its_stage_port() -> None:
    from shared.metrics import DEFAULT_PORTS

    services = _compose()["services"]
    scrape = yaml.safe_load((REPO / "infra" / "prometheus" / "prometheus.yml").read_text())
    discovered = {
        name: entry["port"]
        for job in scrape["scrape_configs"]
        for entry in job.get("dns_sd_configs", [])
        for name in entry["names"]
    }
    assert discovered == DEFAULT_PORTS
    for stage, port in DEFAULT_PORTS.items():
        probe = " ".join(services[stage]["healthcheck"]["test"])
        assert f"localhost:{port}/healthz" in probe, stage
    mounts = services["prometheus"]["volumes"]
    assert any(m.startswith("./infra/prometheus/prometheus.yml:") for m in mounts)


def test_compose_pins_the_same_elastic_version_as_local_provisioning() -> None:
    pom = (REPO / "infra" / "local" / "pom.xml").read_text()
    env = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert f"<es.version>{env['STACK_VERSION']}</es.version>" in pom


# Kibana's data views, by the index (or alias) they read under the default
# index prefix, and the template that maps it.
DEFAULT_PREFIX = "news"
VIEWS = {
    f"{DEFAULT_PREFIX}-articles": TEMPLATE_FILE,
    f"{DEFAULT_PREFIX}-deadletters": DEADLETTER_TEMPLATE_FILE,
}

NUMERIC = {"integer", "long", "float", "double", "short", "byte", "half_float", "scaled_float"}
AGGREGATABLE = NUMERIC | {"keyword", "boolean", "date", "ip"}

# What each Lens operation needs of its source field.
LENS_FIELD_TYPES: dict[str, set[str]] = {
    "terms": AGGREGATABLE,
    "date_histogram": {"date"},
    "max": NUMERIC | {"date"},
    "min": NUMERIC | {"date"},
    "average": NUMERIC,
    "sum": NUMERIC,
    "median": NUMERIC,
    "last_value": AGGREGATABLE,
    "unique_count": AGGREGATABLE,
    "count": AGGREGATABLE,
}


def _field_specs(template: Path) -> dict[str, dict[str, Any]]:
    """Every field path of a template (sub-fields included) with its mapping."""
    mappings = json.loads(template.read_text())["template"]["mappings"]
    specs: dict[str, dict[str, Any]] = {}

    def walk(prefix: str, properties: dict[str, Any]) -> None:
        for name, spec in properties.items():
            path = f"{prefix}{name}"
            if "properties" in spec:
                walk(path + ".", spec["properties"])
                continue
            specs[path] = spec
            for sub, subspec in spec.get("fields", {}).items():
                specs[f"{path}.{sub}"] = subspec

    walk("", mappings["properties"])
    return specs


def _aggregatable(spec: dict[str, Any]) -> bool:
    return spec["type"] in AGGREGATABLE and spec.get("doc_values", True) is not False


def _saved_objects() -> list[dict[str, Any]]:
    objects = []
    for path in sorted(Path(KIBANA_DIR).glob("*.ndjson")):
        objects += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return objects


def _by_id(kind: str) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in _saved_objects() if o["type"] == kind}


def _view_fields(view_id: str) -> dict[str, dict[str, Any]]:
    title = _by_id("index-pattern")[view_id]["attributes"]["title"]
    assert title in VIEWS, f"data view {view_id} reads {title}, which no template maps"
    return _field_specs(VIEWS[title])


def test_kibana_ids_and_references_resolve() -> None:
    objects = _saved_objects()
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects), "duplicate saved object ids"
    for obj in objects:
        for ref in obj.get("references", []):
            assert (ref["type"], ref["id"]) in ids, f"{obj['id']} → missing {ref}"


def test_kibana_objects_declare_the_versions_they_are_written_for() -> None:
    # Without them Kibana would run every migration since 7.0 over objects
    # already in the 8.x shape.
    for obj in _saved_objects():
        assert obj.get("coreMigrationVersion") and obj.get("typeMigrationVersion"), obj["id"]


def test_kibana_data_views_read_the_read_alias_and_the_dead_letter_index() -> None:
    views = {v["attributes"]["title"]: v for v in _by_id("index-pattern").values()}
    assert set(views) == set(VIEWS)
    for title, view in views.items():
        time_field = view["attributes"]["timeFieldName"]
        assert _field_specs(VIEWS[title])[time_field]["type"] == "date", title
    assert views[f"{DEFAULT_PREFIX}-articles"]["attributes"]["timeFieldName"] == "published_at"


def _kql_fields(query: str) -> list[str]:
    return re.findall(r"([\w.]+)\s*:", query)


def test_kibana_saved_searches_use_fields_of_their_data_view() -> None:
    searches = _by_id("search")
    assert {s["attributes"]["title"] for s in searches.values()} >= {
        "Latest articles",
        "One row per story",
    }
    for search in searches.values():
        view = next(r["id"] for r in search["references"] if r["type"] == "index-pattern")
        fields = _view_fields(view)
        attributes = search["attributes"]
        source = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])
        for column in attributes["columns"]:
            assert column in fields, f"{search['id']} shows unknown field {column}"
        for field, _ in attributes["sort"]:
            assert _aggregatable(fields[field]), f"{search['id']} sorts by {field}"
        for field in _kql_fields(source["query"]["query"]):
            assert field in fields, f"{search['id']} queries unknown field {field}"


def _lens_layers(lens: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(data view id, layer) of every layer of a Lens visualization."""
    refs = {r["name"]: r["id"] for r in lens["references"]}
    layers = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    out = []
    for layer_id, layer in layers.items():
        name = f"indexpattern-datasource-layer-{layer_id}"
        assert name in refs, f"{lens['id']}: layer {layer_id} has no data view reference"
        out.append((refs[name], layer))
    return out


def test_every_field_a_visualisation_uses_exists_with_a_type_it_can_use() -> None:
    lenses = _by_id("lens")
    assert lenses
    for lens in lenses.values():
        for view, layer in _lens_layers(lens):
            fields = _view_fields(view)
            assert set(layer["columnOrder"]) == set(layer["columns"]), lens["id"]
            for column_id, column in layer["columns"].items():
                field = column.get("sourceField")
                if field is None or field == "___records___":
                    continue
                operation = column["operationType"]
                assert field in fields, f"{lens['id']}/{column_id}: no field {field}"
                spec = fields[field]
                assert spec["type"] in LENS_FIELD_TYPES[operation], (
                    f"{lens['id']}/{column_id}: {operation} cannot use {field} ({spec['type']})"
                )
                if operation != "date_histogram":
                    assert _aggregatable(spec), (
                        f"{lens['id']}/{column_id}: {field} has no doc values"
                    )
                order = column.get("params", {}).get("orderBy", {})
                if order.get("type") == "column":
                    assert order["columnId"] in layer["columns"], f"{lens['id']}/{column_id}"
                sort_field = column.get("params", {}).get("sortField")
                if sort_field:
                    assert _aggregatable(fields[sort_field]), f"{lens['id']}/{column_id}"


def _accessors(visualization: Any) -> set[str]:
    """Every column id a Lens visualization state points at."""
    found: set[str] = set()
    if isinstance(visualization, dict):
        for key, value in visualization.items():
            if key in {"xAccessor", "splitAccessor", "metricAccessor", "columnId"} and value:
                found.add(value)
            elif key in {"accessors", "primaryGroups", "metrics"} and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            else:
                found |= _accessors(value)
    elif isinstance(visualization, list):
        for item in visualization:
            found |= _accessors(item)
    return found


def test_lens_visualisations_show_only_columns_their_layers_compute() -> None:
    for lens in _by_id("lens").values():
        columns = {c for _, layer in _lens_layers(lens) for c in layer["columns"]}
        shown = _accessors(lens["attributes"]["state"]["visualization"])
        assert shown and shown <= columns, f"{lens['id']}: {shown - columns}"


def test_the_dashboard_has_the_panels_the_issue_asks_for() -> None:
    (dashboard,) = _by_id("dashboard").values()
    refs = {r["name"]: r for r in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len({p["panelIndex"] for p in panels}) == len(panels)
    shown: list[dict[str, Any]] = []
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"] and grid["x"] + grid["w"] <= 48
        if ref["type"] == "lens":
            shown.append(_by_id("lens")[ref["id"]])

    def uses(lens: dict[str, Any], operation: str, field: str | None) -> bool:
        return any(
            c["operationType"] == operation and c.get("sourceField", field) == field
            for _, layer in _lens_layers(lens)
            for c in layer["columns"].values()
        )

    def views(lens: dict[str, Any]) -> set[str]:
        return {view for view, _ in _lens_layers(lens)}

    articles_over_time_by_source = [
        v for v in shown if uses(v, "date_histogram", "published_at") and uses(v, "terms", "source")
    ]
    top_sources = [
        v for v in shown if uses(v, "terms", "source") and v not in articles_over_time_by_source
    ]
    languages = [v for v in shown if uses(v, "terms", "language")]
    biggest_stories = [
        v for v in shown if uses(v, "terms", "story_id") and uses(v, "max", "coverage.count")
    ]
    dead_letters = [
        v
        for v in shown
        if views(v) == {"newsflow-deadletters"} and uses(v, "count", "___records___")
    ]
    for name, found in {
        "articles over time by source": articles_over_time_by_source,
        "top sources": top_sources,
        "languages": languages,
        "biggest stories by coverage": biggest_stories,
        "dead-letter count": dead_letters,
    }.items():
        assert found, f"the dashboard shows no {name}"
