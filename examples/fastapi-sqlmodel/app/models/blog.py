"""Blog posts (BlogDB): FK to users with ON DELETE CASCADE, JSONB tags with a GIN index,
composite indexes for the common listing queries."""

from uuid import UUID, uuid4
from datetime import datetime
from typing import Optional

from sqlalchemy import Column, DateTime, ForeignKey, Index, Integer, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlmodel import Field, SQLModel


class BlogDB(SQLModel, table=True):
    __tablename__ = "blogs"
    __table_args__ = (
        Index("ix_blogs_tags_gin", "tags", postgresql_using="gin"),
        Index("ix_blogs_status_created", "status", "created_at"),
        Index("ix_blogs_author_status", "author_id", "status"),
    )

    id: UUID = Field(
        default_factory=uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    author_id: UUID = Field(
        sa_column=Column(
            PG_UUID(as_uuid=True),
            ForeignKey("users.uuid", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    title: str = Field(max_length=100)
    slug: str = Field(max_length=100, unique=True, index=True)
    content: str = Field(max_length=50000)
    summary: Optional[str] = Field(default=None, max_length=300)
    view_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    word_count: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    reading_time_minutes: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )
    status: str = Field(max_length=20, index=True)
    tags: list = Field(
        default_factory=list,
        sa_column=Column(JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    )
    images_url: Optional[dict] = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = Field(
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
        )
    )
    updated_at: Optional[datetime] = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
