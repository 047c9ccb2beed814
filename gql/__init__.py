"""The core: business rules (``gql.resolvers``) and the Strawberry schema over them."""
