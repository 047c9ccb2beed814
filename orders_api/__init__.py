"""Operations around the service: configuration, tenants and keys, the command line."""
