"""The shapes of what suppliers send us and what we keep."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator


class Quote(BaseModel):
    """One supplier's price for one SKU at one moment."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    sku: str = Field(min_length=3, max_length=32)
    supplier: str
    unit_price: Decimal = Field(alias="unitPrice", gt=0, decimal_places=4)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    in_stock: bool = Field(alias="inStock", default=True)
    quoted_at: datetime = Field(alias="quotedAt")

    @field_validator("sku")
    @classmethod
    def normalise_sku(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("quoted_at")
    @classmethod
    def must_be_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class SupplierConfig(BaseModel):
    """How to reach one supplier's quote API (from suppliers.json)."""

    name: str
    base_url: str
    api_key_env: str
    timeout_s: float = 10.0
    max_batch: int = Field(default=50, ge=1, le=500)


class PriceChange(BaseModel):
    sku: str
    supplier: str
    old: Decimal | None
    new: Decimal
    currency: str

    @property
    def percent(self) -> Decimal | None:
        if self.old is None or self.old == 0:
            return None
        return (self.new - self.old) / self.old * 100


QuoteList = TypeAdapter(list[Quote])
SupplierList = TypeAdapter(list[SupplierConfig])
