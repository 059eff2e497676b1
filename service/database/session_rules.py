"""Session-wide rules: soft-deleted rows are invisible, read sessions (`AsyncReadSession`, by
their type) never write.

Registered on the `Session` class when this module is imported; `service/database/session.py`
imports it, so every session the application opens has them."""

from functools import cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.util import LoaderCriteriaOption
from sqlmodel import SQLModel, col

from service.database.engines import ReadSession
from service.kit.model_base import SoftDeleteMixin

INCLUDE_DELETED = "include_deleted"
"""Execution option that lifts the soft-delete filter (restore and admin paths only)."""


WROTE = "inkwell.wrote"
"""Session.info flag: the transaction flushed or executed a non-SELECT statement."""


_READ_ONLY = "a ReadSessionDep session cannot write; use SessionDep"


@cache
def _soft_delete_criteria() -> tuple[LoaderCriteriaOption, ...]:
    """One criteria option per mapped soft-deletable class, built once after mapping."""
    mapped = [m.class_ for m in SQLModel._sa_registry.mappers]
    return tuple(
        with_loader_criteria(cls, col(cls.deleted_at).is_(None), include_aliases=True)
        for cls in mapped
        if issubclass(cls, SoftDeleteMixin)
    )


@event.listens_for(Session, "do_orm_execute")
def _hide_soft_deleted(state: ORMExecuteState) -> None:
    if not state.is_select:
        if isinstance(state.session, ReadSession) and (
            state.is_insert or state.is_update or state.is_delete
        ):
            raise RuntimeError(_READ_ONLY)
        state.session.info[WROTE] = True
        return
    if (
        not state.is_column_load
        and not state.is_relationship_load
        and not state.execution_options.get(INCLUDE_DELETED, False)
    ):
        state.statement = state.statement.options(*_soft_delete_criteria())


@event.listens_for(Session, "before_flush")
def _refuse_flush_on_read_session(session: Session, *_: Any) -> None:
    if isinstance(session, ReadSession):
        raise RuntimeError(_READ_ONLY)


@event.listens_for(Session, "after_flush")
def _mark_written(session: Session, *_: Any) -> None:
    session.info[WROTE] = True
