//! ACLED CSV import (in progress).
