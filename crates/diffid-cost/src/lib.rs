//! diffid-cost
