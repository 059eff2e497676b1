"""The house rules of docs/architecture.md, checked on the source: imports run one way, down."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

SERVICE = ROOT / "service"
DOMAINS = (
    "users",
    "moderation",
    "posts",
    "comments",
    "tags",
    "follows",
    "notifications",
    "stats",
    "realtime",
    "health",
    "bookmarks",
    "feed",
    "webhooks",
    "feeds",
)
CROSS_CUTTING = ("database", "observability", "ratelimit", "replication", "idempotency", "jobs")
MAX_LINES = 300


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except the bodies of `if TYPE_CHECKING:` (annotations of relationships)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports at run time (absolute names)."""
    package = _module(path).rsplit(".", 1)[0]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _sources(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (SERVICE / package).rglob("*.py"))


def _offenders(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{_module(path)} imports {name}"
        for path in paths
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_kit_imports_nothing_above_it() -> None:
    above = (
        *(f"service.{p}" for p in (*DOMAINS, *CROSS_CUTTING)),
        "service.main",
        "service.models",
        "service.settings",
    )
    assert _offenders(_sources("kit"), above) == []


def test_cross_cutting_packages_import_no_domain() -> None:
    domains = (*(f"service.{d}" for d in DOMAINS), "service.settings")
    assert _offenders(_sources(*CROSS_CUTTING), domains) == []


PACKAGED_ENTRY_POINTS = ("moderation/cli",)
"""Entry points inside a package: like `main.py`, `serve.py`, `worker.py` and `work.py` above
the packages, they build the application's whole `Settings` (`service/settings.py`)."""


def test_packages_read_their_section_not_the_composed_settings() -> None:
    """Every package reads its own section (`USERS_SETTINGS`, ...) or is handed it."""
    modules = [
        path
        for path in _sources(*DOMAINS, *CROSS_CUTTING, "kit")
        if path.relative_to(SERVICE).with_suffix("").as_posix() not in PACKAGED_ENTRY_POINTS
    ]
    assert _offenders(modules, ("service.settings",)) == []


def _section_fields(path: Path) -> set[str]:
    """The fields a package's `settings.py` declares (annotated names in its class bodies)."""
    tree = ast.parse(path.read_text())
    return {
        node.target.id
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


def test_kit_settings_name_no_setting_of_a_package() -> None:
    sections = sorted(p for p in SERVICE.glob("*/settings.py") if p.parent.name != "kit")
    owned = {name: path for path in sections for name in _section_fields(path)}
    kit = (SERVICE / "kit" / "settings.py").read_text()
    assert len(sections) >= 5
    assert {"jwt_secret", "idempotency_ttl_seconds", "jobs_batch_size"} <= owned.keys()
    assert {n: str(p) for n, p in owned.items() if re.search(rf"\b{n}\b", kit)} == {}


def test_posts_import_neither_realtime_nor_notifications() -> None:
    subscribers = ("service.realtime", "service.notifications", "service.bookmarks", "service.feed")
    assert _offenders(_sources("posts"), subscribers) == []


def test_domains_import_down_the_chain_only() -> None:
    """comments -> posts -> moderation -> users; users import no other domain."""
    assert _offenders(_sources("users"), tuple(f"service.{d}" for d in DOMAINS[1:])) == []
    assert _offenders(_sources("posts"), ("service.comments",)) == []
    above_moderation = tuple(f"service.{d}" for d in DOMAINS if d not in ("users", "moderation"))
    assert _offenders(_sources("moderation"), above_moderation) == []


def _routers(domain: str) -> list[Path]:
    """Every router module of a domain: `router.py` and any `*_router.py` (`read_router.py`)."""
    return [p for p in _sources(domain) if p.name.endswith("router.py")]


@pytest.mark.parametrize("domain", DOMAINS)
def test_routers_call_services_never_repositories(domain: str) -> None:
    routers = _routers(domain)
    repositories = [f"service.{d}.repository" for d in DOMAINS]
    assert routers
    assert _offenders(routers, tuple(repositories)) == []


def test_the_router_check_sees_every_router_module() -> None:
    assert {p.name for p in _routers("posts")} == {"router.py", "read_router.py"}


def test_no_file_under_service_is_over_the_limit() -> None:
    long = {
        _module(path): lines
        for path in SERVICE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_core_junk_drawer() -> None:
    assert not (SERVICE / "core").exists()


STALE_CORE = re.compile(r"(?<![\w/-])(?:service/)?core[./]\w")
"""A service path into the old `service/core` (`core/db.py`, `core.db.create_engine`); not the
word (`a Core statement`, `one CPU core.`)."""


def test_no_doc_names_the_old_core_package() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    stale = {
        f"{path.relative_to(ROOT)}:{number}": line.strip()
        for path in docs
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if STALE_CORE.search(line)
    }
    assert stale == {}


def test_the_doc_check_tells_a_path_from_the_word() -> None:
    paths = ["`core.db.create_engine`", "service/core/db.py", "see core/errors.py"]
    words = ["a Core statement", "about one CPU core.", "score.total", "hardcore/x", "core"]
    assert [p for p in paths if STALE_CORE.search(p)] == paths
    assert [w for w in words if STALE_CORE.search(w)] == []


STATEMENT_BUILDERS = frozenset({"select", "insert", "update", "delete", "text"})
SQL_HOMES = frozenset({"repository.py", "queries.py"})
NOT_YET_IN_A_SQL_HOME = {
    "service/comments/read_model.py": "comments' compiled reads (its queries.py to be)",
    "service/comments/models.py": "correlated sub-selects of column_property (the mapping)",
    "service/health/router.py": "the readiness probe's SELECT of alembic_version",
}
"""Files outside repository.py/queries.py that still build statements; each to move, none to add."""


def _statement_builders(path: Path) -> set[str]:
    """The statement constructors (select, insert, update, delete, text) and `CompiledRead`
    that `path` imports or calls (`dialects.insert(...)`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            sql = node.module.split(".")[0] in ("sqlalchemy", "sqlmodel")
            for alias in node.names:
                if (sql and alias.name in STATEMENT_BUILDERS) or alias.name == "CompiledRead":
                    found.add(alias.name)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) == ("dialects", "insert")
        ):
            found.add("dialects.insert")
    return found


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_domain_builds_statements_in_its_repository_and_queries_only(domain: str) -> None:
    """docs/architecture.md: each domain's SQL in repository.py (+ queries.py, compiled reads)."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(names)
        for path in _sources(domain)
        if path.name not in SQL_HOMES and (names := _statement_builders(path))
    }
    assert {k: v for k, v in offenders.items() if k not in NOT_YET_IN_A_SQL_HOME} == {}


def test_the_statement_exceptions_are_still_needed() -> None:
    assert [p for p in NOT_YET_IN_A_SQL_HOME if not _statement_builders(ROOT / p)] == []


def test_the_statement_check_sees_constructors_and_compiled_reads() -> None:
    assert {"select", "CompiledRead", "dialects.insert"} <= _statement_builders(
        SERVICE / "posts" / "repository.py"
    ) | _statement_builders(SERVICE / "posts" / "queries.py")


@pytest.mark.parametrize("domain", DOMAINS)
def test_services_know_no_http_kit(domain: str) -> None:
    services = [p for p in _sources(domain) if p.name == "service.py"]
    assert _offenders(services, ("service.kit.http",)) == []


def test_posts_below_the_routers_know_no_http() -> None:
    """Only posts' routers, their query models (filters.py) and the publisher's provider
    (events.py) speak FastAPI; the service layer and the SQL do not. The one exception:
    representation.py builds the response models the route sends with the route class's
    `construct` (kit/http/routing.py: no validation of trusted columns)."""
    http = ("fastapi", "starlette", "service.kit.http")
    below = [
        p
        for p in _sources("posts")
        if not p.name.endswith("router.py") and p.name not in ("filters.py", "events.py")
    ]
    allowed = "service.posts.representation imports service.kit.http.routing"
    assert [o for o in _offenders(below, http) if not o.startswith(allowed)] == []


def test_kit_is_at_most_a_quarter_of_the_service() -> None:
    """Kit holds only generic code; what a package can own lives in that package."""
    kit = sum(len(p.read_text().splitlines()) for p in (SERVICE / "kit").rglob("*.py"))
    every = sum(len(p.read_text().splitlines()) for p in SERVICE.rglob("*.py"))
    assert kit <= every / 4, f"kit/ is {kit} of {every} lines"
