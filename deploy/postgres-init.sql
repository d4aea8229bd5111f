-- The two services keep separate stores: one database each.
CREATE DATABASE token_service OWNER pdp;
