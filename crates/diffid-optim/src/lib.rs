//! diffid-optim
