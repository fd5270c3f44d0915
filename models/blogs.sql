-- Blog posts (the BlogDB model). Written before users.sql sorts, on purpose: model files may
-- reference each other in any order.
CREATE TABLE blogs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    author_id uuid NOT NULL REFERENCES users (uuid) ON DELETE CASCADE,
    title varchar(100) NOT NULL,
    slug varchar(100) NOT NULL,
    content varchar(50000) NOT NULL,
    summary varchar(300),
    view_count integer NOT NULL DEFAULT 0,
    word_count integer NOT NULL DEFAULT 0,
    reading_time_minutes integer NOT NULL DEFAULT 0,
    status varchar(20) NOT NULL,
    tags jsonb NOT NULL DEFAULT '[]'::jsonb,
    images_url jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    CONSTRAINT uq_blogs_slug UNIQUE (slug)
);

CREATE INDEX ix_blogs_author_id ON blogs (author_id);
CREATE INDEX ix_blogs_status ON blogs (status);
CREATE INDEX ix_blogs_created_at ON blogs (created_at);
CREATE INDEX ix_blogs_tags_gin ON blogs USING gin (tags);
CREATE INDEX ix_blogs_status_created ON blogs (status, created_at);
CREATE INDEX ix_blogs_author_status ON blogs (author_id, status);
