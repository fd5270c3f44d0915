"""Users (UserDB): UUID key, unique username and email, OAuth provider fields."""

from uuid import UUID, uuid4
from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Column, DateTime, String, func, text
from sqlmodel import Field, SQLModel


class UserDB(SQLModel, table=True):
    __tablename__ = "users"

    uuid: UUID = Field(
        default_factory=uuid4,
        primary_key=True,
        sa_column_kwargs={"server_default": text("gen_random_uuid()")},
    )
    username: str = Field(max_length=50, unique=True, index=True)
    email: str = Field(max_length=255, unique=True, index=True)
    password_hash: Optional[str] = Field(default=None, max_length=255)
    auth_provider: str = Field(
        default="email", max_length=50, sa_column_kwargs={"server_default": "email"}
    )
    provider_id: Optional[str] = Field(default=None, max_length=255, index=True)
    first_name: Optional[str] = Field(default=None, max_length=100)
    last_name: Optional[str] = Field(default=None, max_length=100)
    bio: Optional[str] = Field(default=None, max_length=160)
    profile_picture: Optional[str] = Field(default=None, max_length=500)
    website: Optional[str] = Field(default=None, max_length=500)
    date_of_birth: Optional[str] = Field(default=None, max_length=10)
    gender: Optional[str] = Field(default=None, max_length=50)
    phone_number: Optional[str] = Field(default=None, max_length=20)
    country: Optional[str] = Field(default=None, max_length=100)
    is_active: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=text("true"))
    )
    is_verified: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=text("false"))
    )
    role: str = Field(
        default="user", max_length=20, index=True, sa_column_kwargs={"server_default": "user"}
    )
    created_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )
    updated_at: Optional[datetime] = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
