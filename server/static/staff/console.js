// Shared by the console's pages: the CSRF token every session-authenticated POST from JavaScript must carry.
"use strict";
window.consoleCsrf = () => document.querySelector('meta[name="csrf-token"]').content;
