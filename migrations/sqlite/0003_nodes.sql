-- Engine nodes alive on this store: each renews its row while it runs. A node whose row expired
-- is dead: another node closes its open attempts and returns its leases (src/store/nodes.rs).
CREATE TABLE nodes (
    node     TEXT    PRIMARY KEY,
    until_ms INTEGER NOT NULL
) WITHOUT ROWID;
