//! Native backups: one consistent snapshot written as plain SQL, gzip-compressed; restore;
//! rotation.
