-- Users of the blog application (the UserDB model of the FastAPI app this example follows).
CREATE TABLE users (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username varchar(50) NOT NULL,
    email varchar(255) NOT NULL,
    password_hash varchar(255),
    auth_provider varchar(50) NOT NULL DEFAULT 'email',
    provider_id varchar(255),
    first_name varchar(100),
    last_name varchar(100),
    bio varchar(160),
    profile_picture varchar(500),
    website varchar(500),
    date_of_birth varchar(10),
    gender varchar(50),
    phone_number varchar(20),
    country varchar(100),
    is_active boolean NOT NULL DEFAULT true,
    is_verified boolean NOT NULL DEFAULT false,
    role varchar(20) NOT NULL DEFAULT 'user',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    CONSTRAINT uq_users_username UNIQUE (username),
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE INDEX ix_users_provider_id ON users (provider_id);
CREATE INDEX ix_users_role ON users (role);

COMMENT ON TABLE users IS 'Accounts; password_hash is NULL for OAuth-only users.';
