//! diffid-ode
