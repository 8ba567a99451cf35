-- Demo accounts for `./scripts/dev up` (README "Demo accounts"). Sign-up only ever makes fans; an admin
-- exists only where an operator writes the row, as here. The hashes are Argon2id PHC strings made with
-- the service's own hash_password() and default parameters (m=19 MiB, t=2, p=1).
--   admin@marquee.dev / Admin-demo-2026   roles fan, admin
--   fan@marquee.dev   / Fan-demo-2026     role  fan
-- Demo only: never load this file into a database reachable from outside this machine.
INSERT INTO auth.users (email, password_hash, display_name, role)
VALUES ('admin@marquee.dev', '$argon2id$v=19$m=19456,t=2,p=1$ylAFRftLCe2IYQktzPSpKw$6nbpbY1YnjHc+gxGRIHsokdbR4YHukGEHoVMluvG2VA',
        'Demo Admin', 'admin'),
       ('fan@marquee.dev', '$argon2id$v=19$m=19456,t=2,p=1$4w7L9pzMvMLq5yh1pO7Tbw$phxvtOo1DcSjdIkLPKLcqF5j4Cx/YYctTmEmhXF5wxA',
        'Demo Fan', 'fan')
ON CONFLICT (email) DO NOTHING;
