//! Campaign definitions loaded from YAML (validated, with file/line/field errors) and call lists
//! parsed from CSV with phone numbers normalised to E.164. Owns no storage: see [`crate::store`].
