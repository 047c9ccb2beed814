"""Customers: the orders of one mobile number (its digits, whatever the punctuation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, select

from db.models import Order
from gql.context import RequestContext
from gql.resolvers.stats import CENT, revenue_sum
from gql.resolvers.validation import customer_digits


@dataclass(frozen=True)
class Customer:
    mobile: str  # as given on the customer's latest order
    mobile_digits: str
    name: str | None
    email: str | None
    order_count: int
    total_spent: Decimal  # excludes cancelled and refunded orders, like revenue
    first_order_at: datetime
    last_order_at: datetime


async def find_customer(ctx: RequestContext, mobile: str) -> Customer | None:
    digits = customer_digits(mobile)
    same_customer = and_(Order.tenant_id == ctx.tenant_id, Order.mobile_digits == digits)
    totals = select(
        func.count(), revenue_sum(), func.min(Order.created_at), func.max(Order.created_at)
    ).where(same_customer)
    newest_first = (Order.created_at.desc(), Order.id.desc())
    async with ctx.db.reader() as session:
        count, spent, first, last = (await session.execute(totals)).one()
        if not count:
            return None
        latest_mobile = await session.scalar(
            select(Order.mobile).where(same_customer).order_by(*newest_first).limit(1)
        )
        latest_name = await session.scalar(
            select(Order.name)
            .where(same_customer, Order.name.is_not(None))
            .order_by(*newest_first)
            .limit(1)
        )
        latest_email = await session.scalar(
            select(Order.email)
            .where(same_customer, Order.email.is_not(None))
            .order_by(*newest_first)
            .limit(1)
        )
    return Customer(
        mobile=latest_mobile or mobile,
        mobile_digits=digits,
        name=latest_name,
        email=latest_email,
        order_count=count,
        total_spent=Decimal(spent).quantize(CENT),
        first_order_at=first,
        last_order_at=last,
    )
