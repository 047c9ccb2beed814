"""The business rules, as plain ``async def f(ctx, ...)`` functions.

Both the GraphQL schema and the REST adapter call these and nothing else, so every rule
(validation, tenant scope, money, status transitions, timeline events) exists once.
No Strawberry or Starlette imports belong here.
"""
