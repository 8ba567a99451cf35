-- Users and their refresh tokens (docs/erd.md). Emails are stored lower-cased so the unique index is the
-- one case-insensitive answer to "is this email taken", under any number of concurrent sign-ups.
CREATE TABLE auth.users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    password_hash text NOT NULL,
    display_name  text NOT NULL,
    role          text NOT NULL DEFAULT 'fan',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(email)),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_password_hash_argon2id CHECK (password_hash LIKE '$argon2id$%'),
    CONSTRAINT users_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 50),
    CONSTRAINT users_role CHECK (role IN ('fan', 'admin'))
);

-- Opaque refresh tokens, stored only as SHA-256 of the token. Each login starts a family; each refresh
-- marks the presented token used (replaced_by the next) and issues the next in the same family.
-- Presenting a token that is already used means it was copied: the whole family is revoked.
CREATE TABLE auth.refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL,
    replaced_by uuid REFERENCES auth.refresh_tokens (id),
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT refresh_tokens_token_hash_sha256 CHECK (octet_length(token_hash) = 32),
    CONSTRAINT refresh_tokens_expiry CHECK (expires_at > issued_at),
    CONSTRAINT refresh_tokens_replaced_when_used CHECK (replaced_by IS NULL OR used_at IS NOT NULL)
);

-- Revoking a family and listing a user's sessions.
CREATE INDEX refresh_tokens_family_idx ON auth.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON auth.refresh_tokens (user_id);
