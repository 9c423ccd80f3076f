// The seed case (../shared/seed): seven North Koreans detained in Liaoning
// province, China, in April 2019, facing forced return. Counts only.
export const liaoningAppeal = () => ({
  reference: 'UA 001/19',
  language: 'en',
  title: 'China: seven North Koreans face forced return to torture',
  summary: 'Three women, three men and a 10-year-old girl, detained in Liaoning province since 28 April 2019, are at grave risk of torture if deported to North Korea.',
  body: 'Chinese authorities apprehended the group on **28 April 2019**. In North Korea, leaving the country without permission is a criminal offence; people forcibly returned face *political prison camps*, forced labour, torture or execution.\n\nChina is a party to the 1951 Refugee Convention and the Convention against Torture.',
  urgency: 'critical',
  countries: ['CN', 'KP'],
  subdivisions: ['CN-LN'],
  themes: ['refoulement', 'torture', 'children'],
  peopleAtRisk: {
    total: 7, women: 3, men: 3, girls: 1, nationality: 'North Korean',
    situation: ['detained'], risks: ['torture', 'forced labour', 'execution'], detainedSince: '2019-04-28',
  },
  targets: [{
    name: 'Xi Jinping', title: 'President of the People\'s Republic of China', salutation: 'Dear President',
    country: 'CN', address: 'Zhongnanhai, Xichengqu, Beijing 100017, People\'s Republic of China', preferredLanguage: 'zh',
  }],
  asks: [
    'Do not forcibly return the seven North Koreans detained in Liaoning province.',
    'Grant them asylum or allow them safe passage to a third country.',
    'Allow UNHCR to exercise its mandate and meet them.',
  ],
  legalBasis: ['1951 Refugee Convention and 1967 Protocol', '1984 Convention against Torture'],
  actionDeadline: '2099-06-30',
  sources: [{ title: 'China: Don’t Return Detained North Koreans', url: 'https://www.hrw.org/news/2019/05/14/china-dont-return-detained-north-koreans', publisher: 'Human Rights Watch', publishedOn: '2019-05-14' }],
})
