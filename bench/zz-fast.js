require('redis');
const P = String.prototype;
const trick = process.argv[2];
function g(o) { return o.charCodeAt; }
const w = new String('');
if (trick === 'wrap-many') { for (let i = 0; i < 1000; i++) g(w); }
if (trick === 'wrap-many-sp') { for (let i = 0; i < 1000; i++) g(w); Object.setPrototypeOf({}, P); }
if (trick === 'sub') { class X extends String {} ; const x = new X('a'); for (let i = 0; i < 1000; i++) g(x); }
if (trick === 'flags') { }
console.log(trick, %HasFastProperties(P));
