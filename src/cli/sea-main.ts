/** The single executable's entry: its embedded files first, then the CLI as usual. */
import '../sea-assets.js';
import './main.js';
