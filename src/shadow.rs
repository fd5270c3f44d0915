//! The shadow database: a scratch database the tool owns, for loading models and replaying
//! migrations. Kept between runs and updated incrementally; never holds user data.
