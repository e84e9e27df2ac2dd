// TOTP (RFC 6238, SHA-1, 6 digits, 30 s) of the secret startTOTPEnrolment
// answered, as an authenticator app computes it: confirmTOTPEnrolment's code.
const hmac = require('crypto-js');
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
let bits = '';
for (const c of (pm.collectionVariables.get('totpSecret') || '').replace(/=+$/, '').toUpperCase()) {
  bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
}
let key = '';
for (let i = 0; i + 8 <= bits.length; i += 8) key += parseInt(bits.substr(i, 8), 2).toString(16).padStart(2, '0');
const counter = Math.floor(Date.now() / 30000).toString(16).padStart(16, '0');
const mac = hmac.HmacSHA1(hmac.enc.Hex.parse(counter), hmac.enc.Hex.parse(key)).toString();
const at = parseInt(mac.substr(-1), 16);
const code = (parseInt(mac.substr(at * 2, 8), 16) & 0x7fffffff) % 1000000;
pm.collectionVariables.set('totpCode', code.toString().padStart(6, '0'));
