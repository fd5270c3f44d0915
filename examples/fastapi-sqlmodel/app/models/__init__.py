"""The application's tables: importing this package registers them on SQLModel.metadata."""

from app.models.blog import BlogDB
from app.models.user import UserDB

__all__ = ["BlogDB", "UserDB"]
